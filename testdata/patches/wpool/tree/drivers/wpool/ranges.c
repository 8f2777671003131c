// SPDX-License-Identifier: GPL-2.0
/*
 * waitcheck fixture "patch-tree": the memory ranges a pool device stands
 * for, and the walker the platform driver uses over them.
 */
#include <linux/ioport.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include "wpool.h"

static DEFINE_MUTEX(wpool_ranges_lock);

static struct resource wpool_ranges = {
	.name = "wpool ranges",
	.start = 0,
	.end = -1,
	.flags = IORESOURCE_MEM,
};

/* Call @fn on every range; stop at the first error and return it. */
int wpool_walk_ranges(struct device *host, wpool_range_fn fn)
{
	struct resource *res;
	int rc = 0;

	mutex_lock(&wpool_ranges_lock);
	for (res = wpool_ranges.child; res; res = res->sibling) {
		rc = fn(host, (int)res->desc, res);
		if (rc)
			break;
	}
	mutex_unlock(&wpool_ranges_lock);

	return rc;
}
EXPORT_SYMBOL_GPL(wpool_walk_ranges);

MODULE_LICENSE("GPL");
