// SPDX-License-Identifier: GPL-2.0
/*
 * waitcheck fixture "patch-tree": the platform driver of a pool. Every
 * range becomes a child platform device.
 */
#include <linux/platform_device.h>
#include <linux/module.h>
#include "wpool.h"

static void wpool_put_device(void *data)
{
	platform_device_unregister(data);
}

static int wpool_add_range(struct device *host, int nid,
			   const struct resource *res)
{
	struct platform_device *pdev;
	int rc;

	pdev = platform_device_alloc("wpool-range", PLATFORM_DEVID_AUTO);
	if (!pdev)
		return -ENOMEM;

	pdev->dev.numa_node = nid;
	rc = platform_device_add_resources(pdev, res, 1);
	if (rc)
		goto err_put;

	rc = platform_device_add(pdev);
	if (rc)
		goto err_put;

	return devm_add_action_or_reset(host, wpool_put_device, pdev);

err_put:
	platform_device_put(pdev);
	return rc;
}

static int wpool_plat_probe(struct platform_device *pdev)
{
	return wpool_walk_ranges(&pdev->dev, wpool_add_range);
}

static struct platform_driver wpool_plat_driver = {
	.probe = wpool_plat_probe,
	.driver = {
		.name = "wpool",
	},
};
module_platform_driver(wpool_plat_driver);

MODULE_DESCRIPTION("fixture: pool platform driver");
MODULE_LICENSE("GPL");
