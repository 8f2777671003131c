// SPDX-License-Identifier: GPL-2.0
/*
 * waitcheck fixture "seed-fixed": the hmem platform driver in the shape of
 * the merged fix. The deferred work is private to this file, its handler
 * waits for probes *before* it takes the device lock, and probe never
 * waits for it: a busy work makes probe fail with -EBUSY instead. Only
 * module exit flushes.
 */
#include <linux/platform_device.h>
#include <linux/workqueue.h>
#include <linux/cleanup.h>
#include <linux/ioport.h>
#include <linux/module.h>
#include <cxl/cxl.h>
#include "../bus.h"

struct dax_defer_work {
	struct platform_device *pdev;
	struct work_struct work;
};

static void process_defer_work(struct work_struct *w);

static struct dax_defer_work dax_hmem_work = {
	.work = __WORK_INITIALIZER(dax_hmem_work.work, process_defer_work),
};

void dax_hmem_flush_work(void)
{
	flush_work(&dax_hmem_work.work);
}
EXPORT_SYMBOL_GPL(dax_hmem_flush_work);

static int __hmem_register_device(struct device *host, int target_nid,
				  const struct resource *res)
{
	struct platform_device *pdev;
	int rc;

	pdev = platform_device_alloc("hmem", PLATFORM_DEVID_AUTO);
	if (!pdev)
		return -ENOMEM;

	rc = platform_device_add_resources(pdev, res, 1);
	if (rc)
		goto out_put;

	rc = platform_device_add(pdev);
	if (rc)
		goto out_put;

	return 0;

out_put:
	platform_device_put(pdev);
	return rc;
}

static int hmem_register_device(struct device *host, int target_nid,
				const struct resource *res)
{
	if (IS_ENABLED(CONFIG_CXL_REGION) &&
	    region_intersects(res->start, resource_size(res), IORESOURCE_MEM,
			      IORES_DESC_CXL) != REGION_DISJOINT) {
		if (!dax_hmem_initial_probe) {
			dev_dbg(host, "waiting for CXL: %pr\n", res);
			queue_work(system_long_wq, &dax_hmem_work.work);
		}
		return 0;
	}

	return __hmem_register_device(host, target_nid, res);
}

static int hmem_register_cxl_device(struct device *host, int target_nid,
				    const struct resource *res)
{
	if (region_intersects(res->start, resource_size(res), IORESOURCE_MEM,
			      IORES_DESC_CXL) == REGION_DISJOINT)
		return 0;

	if (cxl_region_contains_resource((struct resource *)res))
		return 0;	/* CXL owns it */

	return __hmem_register_device(host, target_nid, res);
}

static void process_defer_work(struct work_struct *w)
{
	struct dax_defer_work *work = container_of(w, struct dax_defer_work, work);
	struct platform_device *pdev = work->pdev;

	if (!pdev)
		return;

	/* wait for cxl_acpi and cxl_pci while holding nothing */
	wait_for_device_probe();

	guard(device)(&pdev->dev);
	if (!pdev->dev.driver)
		return;

	if (!dax_hmem_initial_probe) {
		dax_hmem_initial_probe = true;
		walk_hmem_resources(&pdev->dev, hmem_register_cxl_device);
	}
}

static int dax_hmem_platform_probe(struct platform_device *pdev)
{
	/* never wait for the work from here: it waits for us */
	if (work_pending(&dax_hmem_work.work))
		return -EBUSY;

	if (!dax_hmem_work.pdev)
		dax_hmem_work.pdev = to_platform_device(get_device(&pdev->dev));

	return walk_hmem_resources(&pdev->dev, hmem_register_device);
}

static struct platform_driver dax_hmem_platform_driver = {
	.probe = dax_hmem_platform_probe,
	.driver = {
		.name = "hmem_platform",
	},
};

static int __init dax_hmem_init(void)
{
	return platform_driver_register(&dax_hmem_platform_driver);
}

static void __exit dax_hmem_exit(void)
{
	if (dax_hmem_work.pdev) {
		flush_work(&dax_hmem_work.work);
		put_device(&dax_hmem_work.pdev->dev);
	}

	platform_driver_unregister(&dax_hmem_platform_driver);
}

module_init(dax_hmem_init);
module_exit(dax_hmem_exit);

MODULE_ALIAS("platform:hmem_platform*");
MODULE_DESCRIPTION("fixture: HMEM DAX, deferred CXL resolution (fixed)");
MODULE_LICENSE("GPL");
