// SPDX-License-Identifier: GPL-2.0
/*
 * waitcheck fixture "seed-fixed": active Soft Reserved ranges and their
 * walker; the "initial probe done" flag lives here so it survives a reload
 * of the hmem module.
 */
#include <linux/platform_device.h>
#include <linux/ioport.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include "../bus.h"

bool dax_hmem_initial_probe;
EXPORT_SYMBOL_GPL(dax_hmem_initial_probe);

static DEFINE_MUTEX(hmem_resource_lock);

static struct resource hmem_active = {
	.name = "HMEM devices",
	.start = 0,
	.end = -1,
	.flags = IORESOURCE_MEM,
};

int walk_hmem_resources(struct device *host, walk_hmem_fn fn)
{
	struct resource *res;
	int rc = 0;

	mutex_lock(&hmem_resource_lock);
	for (res = hmem_active.child; res; res = res->sibling) {
		rc = fn(host, (int)res->desc, res);
		if (rc)
			break;
	}
	mutex_unlock(&hmem_resource_lock);

	return rc;
}
EXPORT_SYMBOL_GPL(walk_hmem_resources);

MODULE_LICENSE("GPL");
