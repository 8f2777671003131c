/* SPDX-License-Identifier: GPL-2.0 */
/*
 * waitcheck fixture "alx-stop-fixed": private data of a small PCI Ethernet
 * driver, in the shape of atheros/alx (reconstructed, not the real code).
 */
#ifndef _FOO_H_
#define _FOO_H_

#include <linux/interrupt.h>
#include <linux/netdevice.h>
#include <linux/workqueue.h>
#include <linux/mutex.h>
#include <linux/pci.h>

#define FOO_REG_ISR		0x1600
#define FOO_REG_IMR		0x1604
#define FOO_REG_MAC_CTRL	0x1480
#define FOO_REG_PHY_STATUS	0x1414

#define FOO_ISR_PHY		BIT(12)
#define FOO_ISR_FATAL		BIT(31)
#define FOO_MAC_CTRL_EN		(BIT(0) | BIT(1))
#define FOO_PHY_LINK_UP		BIT(10)

struct foo_priv {
	struct net_device *dev;
	struct pci_dev *pdev;
	void __iomem *hw_addr;

	/* protects the hardware state below and open/stop/reset */
	struct mutex mtx;

	struct work_struct link_check_wk;
	struct work_struct reset_wk;

	u32 int_mask;
	bool link_up;
};

/* hw.c */
void foo_halt(struct foo_priv *priv);
void foo_activate(struct foo_priv *priv);
void foo_check_link(struct foo_priv *priv);
irqreturn_t foo_intr(int irq, void *data);
int foo_up(struct foo_priv *priv);

#endif /* _FOO_H_ */
