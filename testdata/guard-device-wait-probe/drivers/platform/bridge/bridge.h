/* SPDX-License-Identifier: GPL-2.0 */
/*
 * waitcheck fixture "guard-device-wait-probe": private data of a platform
 * bridge driver that rescans its downstream devices from a work item.
 */
#ifndef _BRIDGE_H
#define _BRIDGE_H

#include <linux/platform_device.h>
#include <linux/workqueue.h>
#include <linux/mutex.h>

struct bridge_priv {
	struct platform_device *pdev;
	void __iomem *regs;
	struct work_struct rescan_work;
	struct mutex port_lock;
	unsigned int nr_ports;
	bool links_up;
};

#define BRIDGE_PORT_STATUS	0x10
#define BRIDGE_PORT_LINK_UP	BIT(0)
#define BRIDGE_MAX_PORTS	8

#endif /* _BRIDGE_H */
