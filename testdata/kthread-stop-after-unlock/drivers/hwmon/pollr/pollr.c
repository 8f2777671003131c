// SPDX-License-Identifier: GPL-2.0
/*
 * The fixed stop path: the thread is stopped before the sensor mutex is
 * taken, so the thread can finish its round and return.
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
	kthread_stop(pr->task);
	mutex_lock(&pr->lock);
	pr->task = NULL;
	mutex_unlock(&pr->lock);
}
