// SPDX-License-Identifier: GPL-2.0
/* waitcheck fixture: deferred-work helpers shared by two drivers. */
#include <linux/workqueue.h>
#include <linux/mutex.h>
#include <linux/cleanup.h>
#include "bus.h"

static DEFINE_MUTEX(deferred_lock);
static dax_hmem_deferred_fn deferred_fn;
static void *deferred_data;

/* Trampoline: runs whatever function was registered. */
static void deferred_work_fn(struct work_struct *work)
{
	dax_hmem_deferred_fn fn;
	void *data;

	scoped_guard(mutex, &deferred_lock) {
		fn = deferred_fn;
		data = deferred_data;
	}

	if (fn)
		fn(data);
}

static DECLARE_WORK(dax_hmem_work, deferred_work_fn);

int dax_hmem_register_work(dax_hmem_deferred_fn fn, void *data)
{
	guard(mutex)(&deferred_lock);
	if (deferred_fn)
		return -EBUSY;
	deferred_fn = fn;
	deferred_data = data;
	return 0;
}

int dax_hmem_unregister_work(dax_hmem_deferred_fn fn, void *data)
{
	guard(mutex)(&deferred_lock);
	if (deferred_fn != fn)
		return -EINVAL;
	deferred_fn = NULL;
	deferred_data = NULL;
	return 0;
}

void dax_hmem_queue_work(void)
{
	queue_work(system_long_wq, &dax_hmem_work);
}

void dax_hmem_flush_work(void)
{
	flush_work(&dax_hmem_work);
}
