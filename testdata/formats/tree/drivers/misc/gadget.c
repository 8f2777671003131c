// SPDX-License-Identifier: GPL-2.0
/*
 * waitcheck fixture "formats": a gadget driver written for the output
 * format tests. Its reset work takes the gadget's lock, and two paths wait
 * for that work: one while holding the lock (every time), one from the
 * remove callback that holds the device lock the work also takes.
 */
#include <linux/platform_device.h>
#include <linux/workqueue.h>
#include <linux/module.h>
#include <linux/mutex.h>

struct gadget {
	struct device *dev;
	struct mutex lock;		/* protects "up" – and the hardware */
	struct work_struct reset_work;
	bool up;
};

static void gadget_reset(struct work_struct *work)
{
	struct gadget *g = container_of(work, struct gadget, reset_work);

	mutex_lock(&g->lock);
	if (g->up)
		dev_info(g->dev, "resetting\n");
	mutex_unlock(&g->lock);
}

static void gadget_stop(struct gadget *g)
{
	mutex_lock(&g->lock);
	g->up = false;
	cancel_work_sync(&g->reset_work);
	mutex_unlock(&g->lock);
}

static int gadget_probe(struct platform_device *pdev)
{
	struct gadget *g;

	g = devm_kzalloc(&pdev->dev, sizeof(*g), GFP_KERNEL);
	if (!g)
		return -ENOMEM;

	g->dev = &pdev->dev;
	mutex_init(&g->lock);
	INIT_WORK(&g->reset_work, gadget_reset);
	platform_set_drvdata(pdev, g);
	g->up = true;
	schedule_work(&g->reset_work);
	return 0;
}

static void gadget_remove(struct platform_device *pdev)
{
	gadget_stop(platform_get_drvdata(pdev));
}

static struct platform_driver gadget_driver = {
	.probe = gadget_probe,
	.remove = gadget_remove,
	.driver = {
		.name = "gadget",
	},
};
module_platform_driver(gadget_driver);

MODULE_DESCRIPTION("fixture: gadget with a reset work");
MODULE_LICENSE("GPL");
