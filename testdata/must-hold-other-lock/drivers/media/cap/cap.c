// SPDX-License-Identifier: GPL-2.0
/*
 * The helper is annotated __must_hold() with a different lock (the queue
 * lock, which the stats handler never takes) and cancels the stats work:
 * no cycle.
 */
#include <linux/mutex.h>
#include <linux/workqueue.h>
#include <linux/lockdep.h>

struct cap_dev {
	struct mutex lock;
	struct mutex queue_lock;
	struct delayed_work stats_work;
	unsigned int frames;
	unsigned int dropped;
};

static void cap_stats_work(struct work_struct *work)
{
	struct cap_dev *cap = container_of(work, struct cap_dev, stats_work.work);

	mutex_lock(&cap->lock);
	cap->dropped = 0;
	mutex_unlock(&cap->lock);
	schedule_delayed_work(&cap->stats_work, HZ);
}

static void cap_stop_streaming_locked(struct cap_dev *cap)
	__must_hold(&cap->queue_lock)
{
	cancel_delayed_work_sync(&cap->stats_work);
	cap->frames = 0;
}

int cap_init(struct cap_dev *cap)
{
	mutex_init(&cap->lock);
	mutex_init(&cap->queue_lock);
	INIT_DELAYED_WORK(&cap->stats_work, cap_stats_work);
	return 0;
}

void cap_release(struct cap_dev *cap)
{
	mutex_lock(&cap->queue_lock);
	cap_stop_streaming_locked(cap);
	mutex_unlock(&cap->queue_lock);
}
