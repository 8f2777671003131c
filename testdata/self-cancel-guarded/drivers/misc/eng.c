// SPDX-License-Identifier: GPL-2.0
/* waitcheck fixture: a handler reaches a teardown that cancel-syncs its own work. */
#include <linux/workqueue.h>

struct eng_priv {
	int state;
	struct work_struct recover_work;
};

static void eng_teardown(struct eng_priv *priv)
{
	priv->state = 0;
	if (current_work() != &priv->recover_work)
		cancel_work_sync(&priv->recover_work);
}

static void eng_recover(struct work_struct *work)
{
	struct eng_priv *priv = container_of(work, struct eng_priv, recover_work);

	eng_teardown(priv);
	priv->state = 1;
}

void eng_init(struct eng_priv *priv)
{
	INIT_WORK(&priv->recover_work, eng_recover);
}

void eng_remove(struct eng_priv *priv)
{
	eng_teardown(priv);
}
