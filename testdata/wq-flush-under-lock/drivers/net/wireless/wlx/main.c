// SPDX-License-Identifier: GPL-2.0
/*
 * A driver with its own ordered workqueue: the restart work is queued on it,
 * and the stop path flushes the whole queue while holding the mutex the
 * restart handler takes. flush_workqueue() waits for every item queued on
 * the queue, so it waits for the handler, which waits for the mutex.
 */
#include <linux/mutex.h>
#include <linux/workqueue.h>
#include <linux/netdevice.h>

struct wlx_priv {
	struct mutex conf_mutex;
	struct workqueue_struct *wq;
	struct work_struct restart_work;
	bool started;
};

static void wlx_restart_work(struct work_struct *work)
{
	struct wlx_priv *priv = container_of(work, struct wlx_priv, restart_work);

	mutex_lock(&priv->conf_mutex);
	priv->started = true;
	mutex_unlock(&priv->conf_mutex);
}

void wlx_fw_error(struct wlx_priv *priv)
{
	queue_work(priv->wq, &priv->restart_work);
}

void wlx_stop(struct wlx_priv *priv)
{
	mutex_lock(&priv->conf_mutex);
	priv->started = false;
	flush_workqueue(priv->wq);
	mutex_unlock(&priv->conf_mutex);
}

int wlx_init(struct wlx_priv *priv)
{
	priv->wq = alloc_ordered_workqueue("wlx", 0);
	if (!priv->wq)
		return -ENOMEM;
	mutex_init(&priv->conf_mutex);
	INIT_WORK(&priv->restart_work, wlx_restart_work);
	return 0;
}
