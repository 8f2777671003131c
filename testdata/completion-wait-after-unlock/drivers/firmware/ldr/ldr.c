// SPDX-License-Identifier: GPL-2.0
/*
 * The requester drops the loader mutex before waiting for the completion,
 * so the work can take it and complete.
 */
#include <linux/mutex.h>
#include <linux/completion.h>
#include <linux/workqueue.h>

struct ldr {
	struct mutex lock;
	struct completion done;
	struct work_struct load_work;
	int status;
};

static void ldr_load_work(struct work_struct *work)
{
	struct ldr *ldr = container_of(work, struct ldr, load_work);

	mutex_lock(&ldr->lock);
	ldr->status = 0;
	mutex_unlock(&ldr->lock);
	complete(&ldr->done);
}

int ldr_request(struct ldr *ldr)
{
	int ret;

	mutex_lock(&ldr->lock);
	reinit_completion(&ldr->done);
	schedule_work(&ldr->load_work);
	mutex_unlock(&ldr->lock);
	wait_for_completion(&ldr->done);
	mutex_lock(&ldr->lock);
	ret = ldr->status;
	mutex_unlock(&ldr->lock);
	return ret;
}

void ldr_init(struct ldr *ldr)
{
	mutex_init(&ldr->lock);
	init_completion(&ldr->done);
	INIT_WORK(&ldr->load_work, ldr_load_work);
}
