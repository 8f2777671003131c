// SPDX-License-Identifier: GPL-2.0
/*
 * waitcheck fixture "guard-device-wait-probe": probe kicks off a rescan
 * work. The handler pins the bridge's own (bound) device with
 * guard(device) so it cannot be unbound underneath, then waits for all
 * probes to finish. Any probe that needs this device's lock meanwhile
 * (a nested child probe, a bind of this very device) never finishes.
 */
#include <linux/platform_device.h>
#include <linux/workqueue.h>
#include <linux/cleanup.h>
#include <linux/device.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/io.h>
#include "bridge.h"

static void bridge_update_links(struct bridge_priv *priv)
{
	unsigned int i;
	u32 status;

	guard(mutex)(&priv->port_lock);
	priv->links_up = false;
	for (i = 0; i < priv->nr_ports; i++) {
		status = readl(priv->regs + BRIDGE_PORT_STATUS + 4 * i);
		if (status & BRIDGE_PORT_LINK_UP)
			priv->links_up = true;
	}
}

static void bridge_rescan_work(struct work_struct *work)
{
	struct bridge_priv *priv = container_of(work, struct bridge_priv,
						rescan_work);

	/* keep the bridge bound while we look at its ports */
	guard(device)(&priv->pdev->dev);
	if (!priv->pdev->dev.driver)
		return;

	/* downstream drivers must have had their chance to bind */
	wait_for_device_probe();

	bridge_update_links(priv);
	dev_info(&priv->pdev->dev, "links %s\n", priv->links_up ? "up" : "down");
}

static int bridge_probe(struct platform_device *pdev)
{
	struct bridge_priv *priv;

	priv = devm_kzalloc(&pdev->dev, sizeof(*priv), GFP_KERNEL);
	if (!priv)
		return -ENOMEM;

	priv->regs = devm_platform_ioremap_resource(pdev, 0);
	if (IS_ERR(priv->regs))
		return PTR_ERR(priv->regs);

	priv->pdev = pdev;
	priv->nr_ports = BRIDGE_MAX_PORTS;
	mutex_init(&priv->port_lock);
	INIT_WORK(&priv->rescan_work, bridge_rescan_work);
	platform_set_drvdata(pdev, priv);

	schedule_work(&priv->rescan_work);
	return 0;
}

static const struct of_device_id bridge_of_match[] = {
	{ .compatible = "fixture,port-bridge" },
	{ }
};
MODULE_DEVICE_TABLE(of, bridge_of_match);

static struct platform_driver bridge_driver = {
	.probe = bridge_probe,
	.driver = {
		.name = "port-bridge",
		.of_match_table = bridge_of_match,
	},
};
module_platform_driver(bridge_driver);

MODULE_DESCRIPTION("fixture: bridge that rescans under its device lock");
MODULE_LICENSE("GPL");
