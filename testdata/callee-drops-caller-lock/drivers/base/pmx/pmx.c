// SPDX-License-Identifier: GPL-2.0
/*
 * A barrier helper documented as "called with pmx->lock held": it lets the
 * caller's lock go around the synchronous cancel of the request work (whose
 * handler takes the lock), and takes it back before returning. The caller's
 * hold does not reach the cancel: no cycle.
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
	if (pmx->pending) {
		mutex_unlock(&pmx->lock);
		cancel_work_sync(&pmx->req_work);
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
