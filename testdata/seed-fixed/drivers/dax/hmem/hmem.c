// SPDX-License-Identifier: GPL-2.0
/* waitcheck fixture: the merged fix. Probe never flushes; only exit does. */
#include <linux/platform_device.h>
#include <linux/workqueue.h>
#include <linux/module.h>

struct defer_work {
	struct platform_device *pdev;
	struct work_struct work;
};

static void process_defer_work(struct work_struct *w);

static struct defer_work hmem_work = {
	.work = __WORK_INITIALIZER(hmem_work.work, process_defer_work),
};

static void process_defer_work(struct work_struct *w)
{
	struct defer_work *dw = container_of(w, struct defer_work, work);
	struct platform_device *pdev = dw->pdev;

	if (!pdev)
		return;
	/* waits for probes first, takes the device lock only afterwards */
	wait_for_device_probe();
	guard(device)(&pdev->dev);
	if (!pdev->dev.driver)
		return;
}

static int hmem_probe(struct platform_device *pdev)
{
	if (work_pending(&hmem_work.work))
		return -EBUSY;
	hmem_work.pdev = pdev;
	queue_work(system_long_wq, &hmem_work.work);
	return 0;
}

static struct platform_driver hmem_driver = {
	.probe = hmem_probe,
	.driver = { .name = "hmem" },
};

static int __init hmem_init(void)
{
	return platform_driver_register(&hmem_driver);
}

static void __exit hmem_exit(void)
{
	flush_work(&hmem_work.work);
	platform_driver_unregister(&hmem_driver);
}
module_init(hmem_init);
module_exit(hmem_exit);
