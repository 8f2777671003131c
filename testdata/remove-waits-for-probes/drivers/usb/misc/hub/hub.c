// SPDX-License-Identifier: GPL-2.0
/*
 * A platform driver whose remove unbinds the devices it created and waits
 * for probes in flight to finish (wait_for_device_probe()), holding its own
 * device lock as every remove does. No pending probe needs that lock: the
 * device is bound (it is being removed), so its own probe is not pending,
 * and other devices' probes take their own locks.
 */
#include <linux/platform_device.h>
#include <linux/device.h>

struct hub_priv {
	struct device *child;
};

static int hub_probe(struct platform_device *pdev)
{
	struct hub_priv *priv;

	priv = devm_kzalloc(&pdev->dev, sizeof(*priv), GFP_KERNEL);
	if (!priv)
		return -ENOMEM;
	platform_set_drvdata(pdev, priv);
	return 0;
}

static void hub_remove(struct platform_device *pdev)
{
	struct hub_priv *priv = platform_get_drvdata(pdev);

	if (priv->child)
		device_release_driver(priv->child);
	wait_for_device_probe();
}

static struct platform_driver hub_driver = {
	.probe = hub_probe,
	.remove = hub_remove,
	.driver = { .name = "hub" },
};
module_platform_driver(hub_driver);
