// SPDX-License-Identifier: GPL-2.0
/*
 * waitcheck fixture "probe-flush-direct": finding the clock supplier the
 * firmware needs. The supplier's driver may still be probing, so this
 * waits for every probe in flight to finish first.
 */
#include <linux/platform_device.h>
#include <linux/device.h>
#include <linux/of.h>
#include <linux/of_platform.h>
#include "acme.h"

int acme_wait_for_suppliers(struct acme_fw *fw)
{
	struct device_node *np;
	struct platform_device *sup;

	np = of_parse_phandle(fw->pdev->dev.of_node, "acme,clock-supplier", 0);
	if (!np)
		return 0;	/* optional */

	/* let the supplier's driver bind before we look it up */
	wait_for_device_probe();

	sup = of_find_device_by_node(np);
	of_node_put(np);
	if (!sup)
		return -EPROBE_DEFER;

	if (!sup->dev.driver) {
		put_device(&sup->dev);
		return -EPROBE_DEFER;
	}

	fw->supplier = &sup->dev;
	return 0;
}

void acme_put_suppliers(struct acme_fw *fw)
{
	if (fw->supplier) {
		put_device(fw->supplier);
		fw->supplier = NULL;
	}
}
