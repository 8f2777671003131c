// SPDX-License-Identifier: GPL-2.0
/* waitcheck fixture: a handler holds the bound device's lock and waits for probes. */
#include <linux/platform_device.h>
#include <linux/workqueue.h>

struct foo_priv {
	struct platform_device *pdev;
	struct work_struct rescan_work;
};

static void foo_rescan(struct work_struct *work)
{
	struct foo_priv *priv = container_of(work, struct foo_priv, rescan_work);

	guard(device)(&priv->pdev->dev);
	/* wrong order: a pending probe of this device needs the lock we hold */
	wait_for_device_probe();
}

static int foo_probe(struct platform_device *pdev)
{
	struct foo_priv *priv;

	priv = devm_kzalloc(&pdev->dev, sizeof(*priv), GFP_KERNEL);
	if (!priv)
		return -ENOMEM;
	priv->pdev = pdev;
	INIT_WORK(&priv->rescan_work, foo_rescan);
	schedule_work(&priv->rescan_work);
	return 0;
}

static struct platform_driver foo_driver = {
	.probe = foo_probe,
	.driver = { .name = "foo" },
};
module_platform_driver(foo_driver);
