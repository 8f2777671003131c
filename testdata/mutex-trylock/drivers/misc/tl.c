// SPDX-License-Identifier: GPL-2.0
/* waitcheck fixture: the handler only trylocks, so the cancel under the lock cannot deadlock. */
#include <linux/workqueue.h>
#include <linux/mutex.h>

struct tl_priv {
	struct mutex lock;
	struct work_struct work;
};

static void tl_work(struct work_struct *work)
{
	struct tl_priv *priv = container_of(work, struct tl_priv, work);

	if (!mutex_trylock(&priv->lock))
		return;
	tl_poke(priv);
	mutex_unlock(&priv->lock);
}

void tl_init(struct tl_priv *priv)
{
	INIT_WORK(&priv->work, tl_work);
}

void tl_stop(struct tl_priv *priv)
{
	mutex_lock(&priv->lock);
	cancel_work_sync(&priv->work);
	mutex_unlock(&priv->lock);
}
