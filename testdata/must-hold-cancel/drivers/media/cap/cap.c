// SPDX-License-Identifier: GPL-2.0
/*
 * A helper documents with a sparse __must_hold() annotation that its
 * callers hold the device mutex, and cancels the stats work synchronously; the stats handler
 * takes that mutex. Whoever the caller is, it waits for the handler while
 * holding the lock the handler needs.
 */
#include <linux/mutex.h>
#include <linux/workqueue.h>
#include <linux/lockdep.h>

struct cap_dev {
	struct mutex lock;
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
	__must_hold(&cap->lock)
{
	cancel_delayed_work_sync(&cap->stats_work);
	cap->frames = 0;
}

int cap_init(struct cap_dev *cap)
{
	mutex_init(&cap->lock);
	INIT_DELAYED_WORK(&cap->stats_work, cap_stats_work);
	return 0;
}

void cap_release(struct cap_dev *cap)
{
	mutex_lock(&cap->lock);
	cap_stop_streaming_locked(cap);
	mutex_unlock(&cap->lock);
}
