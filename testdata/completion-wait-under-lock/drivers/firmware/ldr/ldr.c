// SPDX-License-Identifier: GPL-2.0
/*
 * A firmware loader hands the load to a work item and waits for it with a
 * completion, holding the loader mutex. The work takes that mutex before it
 * calls complete(): the requester waits for the completion, the work for the
 * mutex. lockdep does not see this (no cross-release for completions).
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
	wait_for_completion(&ldr->done);
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
