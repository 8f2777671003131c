/* SPDX-License-Identifier: GPL-2.0 */
/*
 * waitcheck fixture "seed": a reconstruction of the shape of the dax bus
 * helpers from the v6 "Soft Reserved" series (not the real code).
 */
#ifndef __DAX_BUS_H__
#define __DAX_BUS_H__
#include <linux/device.h>
#include <linux/ioport.h>

struct dax_region;
struct dev_dax;

struct dax_device_driver {
	struct device_driver drv;
	int (*probe)(struct dev_dax *dev);
	void (*remove)(struct dev_dax *dev);
};

/*
 * Deferred ownership resolution: hmem registers one callback, queues it
 * when a range needs the CXL stack, and flushes it before letting go.
 */
typedef void (*dax_hmem_deferred_fn)(void *data);

int dax_hmem_register_work(dax_hmem_deferred_fn fn, void *data);
int dax_hmem_unregister_work(dax_hmem_deferred_fn fn, void *data);
void dax_hmem_queue_work(void);
void dax_hmem_flush_work(void);

/* Lives in include/linux/dax.h in the kernel; kept local for the fixture. */
typedef int (*walk_hmem_fn)(struct device *dev, int target_nid,
			    const struct resource *res);
int walk_hmem_resources(struct device *host, walk_hmem_fn fn);

#endif /* __DAX_BUS_H__ */
