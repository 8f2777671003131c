// SPDX-License-Identifier: GPL-2.0
/*
 * A polling kthread takes the sensor mutex on each round. Its stop path
 * calls kthread_stop() while holding that mutex: kthread_stop() waits for
 * the thread function to return, and the thread may be sleeping in
 * mutex_lock() on the lock the stopper holds.
 */
#include <linux/kthread.h>
#include <linux/mutex.h>
#include <linux/delay.h>

struct pollr {
	struct mutex lock;
	struct task_struct *task;
	int temp;
};

static int pollr_thread(void *data)
{
	struct pollr *pr = data;

	while (!kthread_should_stop()) {
		mutex_lock(&pr->lock);
		pr->temp = pollr_read_hw(pr);
		mutex_unlock(&pr->lock);
		msleep(500);
	}
	return 0;
}

int pollr_start(struct pollr *pr)
{
	mutex_init(&pr->lock);
	pr->task = kthread_run(pollr_thread, pr, "pollr");
	return PTR_ERR_OR_ZERO(pr->task);
}

void pollr_stop(struct pollr *pr)
{
	mutex_lock(&pr->lock);
	kthread_stop(pr->task);
	pr->task = NULL;
	mutex_unlock(&pr->lock);
}
