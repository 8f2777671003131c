// SPDX-License-Identifier: GPL-2.0
/*
 * waitcheck fixture "patch-tree": the pool bus.
 */
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/workqueue.h>
#include "wpool.h"

static int wpool_bus_match(struct device *dev, const struct device_driver *drv)
{
	/* any pool driver takes any pool device */
	return 1;
}

const struct bus_type wpool_bus_type = {
	.name = "wpool",
	.match = wpool_bus_match,
};
EXPORT_SYMBOL_GPL(wpool_bus_type);

MODULE_LICENSE("GPL");
