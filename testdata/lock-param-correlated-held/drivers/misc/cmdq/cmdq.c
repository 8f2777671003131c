// SPDX-License-Identifier: GPL-2.0
/*
 * waitcheck fixture "lock-param-correlated-held": a command queue whose
 * submit path takes the queue lock only for synchronous commands, and
 * lets it go under the same test before waiting for the poll work to
 * retire the command, but flushes first: a synchronous submit waits for
 * the poll work while holding the lock that work needs.
 */
#include <linux/workqueue.h>
#include <linux/mutex.h>
#include <linux/module.h>

struct cmdq {
	struct mutex lock;
	struct work_struct poll_work;
	unsigned int pending;
	bool polled;
};

static void cmdq_poll_work(struct work_struct *work)
{
	struct cmdq *q = container_of(work, struct cmdq, poll_work);

	mutex_lock(&q->lock);
	q->pending = 0;
	mutex_unlock(&q->lock);
}

int cmdq_submit(struct cmdq *q, int sync)
{
	if (sync)
		mutex_lock(&q->lock);

	q->pending++;
	schedule_work(&q->poll_work);

	if (q->polled) {
		if (sync)
			flush_work(&q->poll_work);
		if (sync)
			mutex_unlock(&q->lock);
		return 0;
	}
	if (sync)
		mutex_unlock(&q->lock);
	return -EINPROGRESS;
}

void cmdq_init(struct cmdq *q)
{
	mutex_init(&q->lock);
	INIT_WORK(&q->poll_work, cmdq_poll_work);
}

MODULE_LICENSE("GPL");
