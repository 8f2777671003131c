// SPDX-License-Identifier: GPL-2.0
/*
 * waitcheck fixture "seed": the hmem platform driver after the reviewed
 * patch. Ranges that intersect a CXL window are handed to a deferred work
 * that first waits for the CXL drivers to finish probing.
 */
#include <linux/platform_device.h>
#include <linux/memregion.h>
#include <linux/ioport.h>
#include <linux/module.h>
#include <linux/dax.h>
#include "../bus.h"

static bool region_idle;
module_param_named(region_idle, region_idle, bool, 0644);

static void hmem_put_device(void *data)
{
	platform_device_unregister(data);
}

static int hmem_add_range(struct device *host, int target_nid,
			  const struct resource *res)
{
	struct platform_device *pdev;
	int rc;

	pdev = platform_device_alloc("hmem", PLATFORM_DEVID_AUTO);
	if (!pdev)
		return -ENOMEM;

	pdev->dev.numa_node = numa_map_to_online_node(target_nid);
	rc = platform_device_add_resources(pdev, res, 1);
	if (rc)
		goto err_put;

	rc = platform_device_add(pdev);
	if (rc)
		goto err_put;

	return devm_add_action_or_reset(host, hmem_put_device, pdev);

err_put:
	platform_device_put(pdev);
	return rc;
}

static int hmem_register_device(struct device *host, int target_nid,
				const struct resource *res)
{
	if (IS_ENABLED(CONFIG_CXL_REGION) &&
	    region_intersects(res->start, resource_size(res), IORESOURCE_MEM,
			      IORES_DESC_CXL) != REGION_DISJOINT) {
		dev_dbg(host, "deferring range to CXL: %pr\n", res);
		dax_hmem_queue_work();
		return 0;
	}

	/* a plain Soft Reserved range: register it now, may fail */
	return hmem_add_range(host, target_nid, res);
}

static int hmem_register_cxl_device(struct device *host, int target_nid,
				    const struct resource *res)
{
	if (region_intersects(res->start, resource_size(res), IORESOURCE_MEM,
			      IORES_DESC_CXL) == REGION_DISJOINT)
		return 0;

	return hmem_add_range(host, target_nid, res);
}

static void process_defer_work(void *data)
{
	struct platform_device *pdev = data;
	int rc;

	/* give cxl_acpi and cxl_pci a chance to finish probing first */
	wait_for_device_probe();

	rc = walk_hmem_resources(&pdev->dev, hmem_register_cxl_device);
	if (rc)
		dev_warn(&pdev->dev, "CXL ranges left unclaimed: %d\n", rc);
}

static void kill_defer_work(void *data)
{
	struct platform_device *pdev = data;

	dax_hmem_flush_work();
	dax_hmem_unregister_work(process_defer_work, pdev);
}

static int dax_hmem_platform_probe(struct platform_device *pdev)
{
	int rc;

	rc = dax_hmem_register_work(process_defer_work, pdev);
	if (rc)
		return rc;

	rc = devm_add_action_or_reset(&pdev->dev, kill_defer_work, pdev);
	if (rc)
		return rc;

	return walk_hmem_resources(&pdev->dev, hmem_register_device);
}

static struct platform_driver dax_hmem_platform_driver = {
	.probe = dax_hmem_platform_probe,
	.driver = {
		.name = "hmem_platform",
	},
};

module_platform_driver(dax_hmem_platform_driver);

MODULE_ALIAS("platform:hmem_platform*");
MODULE_DESCRIPTION("fixture: HMEM DAX with deferred CXL resolution");
MODULE_LICENSE("GPL");
