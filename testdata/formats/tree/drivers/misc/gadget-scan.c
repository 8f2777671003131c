// SPDX-License-Identifier: GPL-2.0
/*
 * waitcheck fixture "formats": a scanner that waits for the other drivers
 * to bind, started by a probe that can still fail after starting it.
 */
#include <linux/platform_device.h>
#include <linux/workqueue.h>
#include <linux/module.h>

static void gadget_scan(struct work_struct *work)
{
	/* let the other gadgets bind first */
	wait_for_device_probe();
}
static DECLARE_WORK(gadget_scan_work, gadget_scan);

static void gadget_stop_scan(void *data)
{
	flush_work(&gadget_scan_work);
}

static int gadget_scan_probe(struct platform_device *pdev)
{
	int ret;

	ret = devm_add_action_or_reset(&pdev->dev, gadget_stop_scan, NULL);
	if (ret)
		return ret;

	schedule_work(&gadget_scan_work);

	return platform_get_irq(pdev, 0) < 0 ? -ENXIO : 0;
}

static struct platform_driver gadget_scan_driver = {
	.probe = gadget_scan_probe,
	.driver = {
		.name = "gadget-scan",
	},
};
module_platform_driver(gadget_scan_driver);

MODULE_LICENSE("GPL");
