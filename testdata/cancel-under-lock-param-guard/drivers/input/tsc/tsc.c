// SPDX-License-Identifier: GPL-2.0
/*
 * A stop helper cancels the polling work synchronously only when asked to
 * (`sync`), holding the controller mutex that the poll handler takes. Its
 * callers pass `sync` on through an ops table, so no caller decides it: the
 * cycle needs sync == true, and the finding says so (a warning, not an
 * error). The same helper called with a constant false from the suspend
 * path adds nothing.
 */
#include <linux/mutex.h>
#include <linux/workqueue.h>

struct tsc {
	struct mutex lock;
	struct delayed_work poll_work;
	bool running;
};

struct tsc_ops {
	void (*stop)(struct tsc *ts, bool sync);
};

static void tsc_poll(struct work_struct *work)
{
	struct tsc *ts = container_of(work, struct tsc, poll_work.work);

	mutex_lock(&ts->lock);
	ts->running = true;
	mutex_unlock(&ts->lock);
}

static void tsc_stop(struct tsc *ts, bool sync)
{
	mutex_lock(&ts->lock);
	ts->running = false;
	if (sync)
		cancel_delayed_work_sync(&ts->poll_work);
	else
		cancel_delayed_work(&ts->poll_work);
	mutex_unlock(&ts->lock);
}

static const struct tsc_ops tsc_ops = {
	.stop = tsc_stop,
};

void tsc_suspend(struct tsc *ts)
{
	tsc_stop(ts, false);
}

void tsc_init(struct tsc *ts)
{
	mutex_init(&ts->lock);
	INIT_DELAYED_WORK(&ts->poll_work, tsc_poll);
}
