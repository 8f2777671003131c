// SPDX-License-Identifier: GPL-2.0
/*
 * probe sets up a detection work with devm_delayed_work_autocancel(), queues
 * it, and can still fail afterwards. The handler waits for probes in flight
 * (it wants the PHY driver bound first). When the probe fails, devres
 * cancel-syncs the work while the failing probe is still counted in
 * probe_count: the handler waits for the probe, the probe for the handler.
 */
#include <linux/platform_device.h>
#include <linux/devm-helpers.h>
#include <linux/workqueue.h>

struct ext_priv {
	struct device *dev;
	struct delayed_work detect_work;
	int irq;
};

static void ext_detect_work(struct work_struct *work)
{
	struct ext_priv *priv = container_of(work, struct ext_priv, detect_work.work);

	/* the PHY is probed asynchronously: wait for it before reading state */
	wait_for_device_probe();
	dev_dbg(priv->dev, "cable state updated\n");
}

static int ext_probe(struct platform_device *pdev)
{
	struct ext_priv *priv;
	int ret;

	priv = devm_kzalloc(&pdev->dev, sizeof(*priv), GFP_KERNEL);
	if (!priv)
		return -ENOMEM;
	priv->dev = &pdev->dev;

	ret = devm_delayed_work_autocancel(&pdev->dev, &priv->detect_work,
					   ext_detect_work);
	if (ret)
		return ret;
	queue_delayed_work(system_power_efficient_wq, &priv->detect_work, 0);

	priv->irq = platform_get_irq(pdev, 0);
	if (priv->irq < 0)
		return priv->irq;
	return 0;
}

static struct platform_driver ext_driver = {
	.probe = ext_probe,
	.driver = { .name = "ext-cable" },
};
module_platform_driver(ext_driver);
