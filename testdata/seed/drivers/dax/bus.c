// SPDX-License-Identifier: GPL-2.0
/*
 * waitcheck fixture "seed": the deferred-work helpers of the dax bus, as
 * added by the reviewed patch. One static work item runs whatever callback
 * the hmem driver registered.
 */
#include <linux/workqueue.h>
#include <linux/cleanup.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/rwsem.h>
#include "bus.h"

/* Protects the region list of the bus; unrelated to the deferred work. */
DECLARE_RWSEM(dax_region_rwsem);

static DEFINE_MUTEX(dax_hmem_lock);
static dax_hmem_deferred_fn hmem_deferred_fn;
static void *dax_hmem_data;

/* Trampoline: pick up the registered callback and run it. */
static void hmem_deferred_work(struct work_struct *work)
{
	dax_hmem_deferred_fn fn;
	void *data;

	scoped_guard(mutex, &dax_hmem_lock) {
		fn = hmem_deferred_fn;
		data = dax_hmem_data;
	}

	if (fn)
		fn(data);
}

static DECLARE_WORK(dax_hmem_work, hmem_deferred_work);

int dax_hmem_register_work(dax_hmem_deferred_fn fn, void *data)
{
	guard(mutex)(&dax_hmem_lock);

	/* only one owner of the deferred work at a time */
	if (hmem_deferred_fn)
		return -EBUSY;

	hmem_deferred_fn = fn;
	dax_hmem_data = data;
	return 0;
}
EXPORT_SYMBOL_GPL(dax_hmem_register_work);

int dax_hmem_unregister_work(dax_hmem_deferred_fn fn, void *data)
{
	guard(mutex)(&dax_hmem_lock);

	if (hmem_deferred_fn != fn || dax_hmem_data != data)
		return -EINVAL;

	hmem_deferred_fn = NULL;
	dax_hmem_data = NULL;
	return 0;
}
EXPORT_SYMBOL_GPL(dax_hmem_unregister_work);

void dax_hmem_queue_work(void)
{
	/* resolution may wait a long time for CXL enumeration */
	queue_work(system_long_wq, &dax_hmem_work);
}
EXPORT_SYMBOL_GPL(dax_hmem_queue_work);

void dax_hmem_flush_work(void)
{
	flush_work(&dax_hmem_work);
}
EXPORT_SYMBOL_GPL(dax_hmem_flush_work);

static int dax_bus_match(struct device *dev, const struct device_driver *drv)
{
	/* every dax device driver accepts every dax device here */
	return 1;
}

const struct bus_type dax_bus_type = {
	.name = "dax",
	.match = dax_bus_match,
};
EXPORT_SYMBOL_GPL(dax_bus_type);

MODULE_LICENSE("GPL");
