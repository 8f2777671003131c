// SPDX-License-Identifier: GPL-2.0
/* waitcheck fixture: a platform driver deferring work to a helper. */
#include <linux/platform_device.h>
#include <linux/module.h>
#include "../bus.h"

static bool range_is_cxl(const struct resource *res);
static int add_region(struct device *host, const struct resource *res);

static int hmem_register_device(struct device *host, int nid,
				const struct resource *res)
{
	if (range_is_cxl(res)) {
		/* let the deferred work sort this range out */
		dax_hmem_queue_work();
		return 0;
	}
	return add_region(host, res);
}

static void process_defer_work(void *data)
{
	struct platform_device *pdev = data;

	/* let the other drivers finish probing first */
	wait_for_device_probe();
	walk_hmem_resources(&pdev->dev, hmem_register_device);
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
MODULE_LICENSE("GPL");
