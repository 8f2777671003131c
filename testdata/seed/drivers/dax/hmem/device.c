// SPDX-License-Identifier: GPL-2.0
/*
 * waitcheck fixture "seed": the list of Soft Reserved ranges that the hmem
 * platform device stands for, and the walker the driver uses over it.
 */
#include <linux/platform_device.h>
#include <linux/ioport.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include "../bus.h"

static DEFINE_MUTEX(hmem_resource_lock);

static struct resource hmem_active = {
	.name = "HMEM devices",
	.start = 0,
	.end = -1,
	.flags = IORESOURCE_MEM,
};

/*
 * Call @fn for every active range, stop at the first error and hand it
 * back to the caller.
 */
int walk_hmem_resources(struct device *host, walk_hmem_fn fn)
{
	struct resource *res;
	int nid, rc = 0;

	mutex_lock(&hmem_resource_lock);
	for (res = hmem_active.child; res; res = res->sibling) {
		nid = (int)res->desc;
		rc = fn(host, nid, res);
		if (rc)
			break;
	}
	mutex_unlock(&hmem_resource_lock);

	return rc;
}
EXPORT_SYMBOL_GPL(walk_hmem_resources);

MODULE_LICENSE("GPL");
