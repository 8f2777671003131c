// SPDX-License-Identifier: GPL-2.0
/*
 * The helper lets the caller's lock go only when a request is pending, but
 * cancel-syncs the request work on both paths: on the other path the
 * caller's hold reaches the cancel, and the handler takes the lock.
 */
#include <linux/mutex.h>
#include <linux/workqueue.h>

struct pmx {
	struct mutex lock;
	struct work_struct req_work;
	bool pending;
};

static void pmx_req_work(struct work_struct *work)
{
	struct pmx *pmx = container_of(work, struct pmx, req_work);

	mutex_lock(&pmx->lock);
	pmx->pending = false;
	mutex_unlock(&pmx->lock);
}

/* Called with pmx->lock held. */
static void __pmx_barrier(struct pmx *pmx)
{
	if (pmx->pending)
		mutex_unlock(&pmx->lock);
	cancel_work_sync(&pmx->req_work);
	if (pmx->pending) {
		mutex_lock(&pmx->lock);
		pmx->pending = false;
	}
}

void pmx_barrier(struct pmx *pmx)
{
	mutex_lock(&pmx->lock);
	__pmx_barrier(pmx);
	mutex_unlock(&pmx->lock);
}

void pmx_init(struct pmx *pmx)
{
	mutex_init(&pmx->lock);
	INIT_WORK(&pmx->req_work, pmx_req_work);
}
