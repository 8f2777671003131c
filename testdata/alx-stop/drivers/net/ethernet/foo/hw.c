// SPDX-License-Identifier: GPL-2.0
/*
 * waitcheck fixture "alx-stop": MAC, PHY and interrupt helpers. The MAC
 * and PHY ones expect priv->mtx to be held by the caller.
 */
#include <linux/interrupt.h>
#include <linux/netdevice.h>
#include <linux/io.h>
#include "foo.h"

void foo_halt(struct foo_priv *priv)
{
	lockdep_assert_held(&priv->mtx);

	netif_stop_queue(priv->dev);
	netif_carrier_off(priv->dev);
	writel(0, priv->hw_addr + FOO_REG_IMR);
	writel(0, priv->hw_addr + FOO_REG_MAC_CTRL);
	priv->link_up = false;
}

void foo_activate(struct foo_priv *priv)
{
	lockdep_assert_held(&priv->mtx);

	writel(FOO_MAC_CTRL_EN, priv->hw_addr + FOO_REG_MAC_CTRL);
	writel(priv->int_mask, priv->hw_addr + FOO_REG_IMR);
	netif_wake_queue(priv->dev);
}

void foo_check_link(struct foo_priv *priv)
{
	u32 phy = readl(priv->hw_addr + FOO_REG_PHY_STATUS);

	priv->link_up = !!(phy & FOO_PHY_LINK_UP);
	if (priv->link_up)
		netif_carrier_on(priv->dev);
	else
		netif_carrier_off(priv->dev);
}

irqreturn_t foo_intr(int irq, void *data)
{
	struct foo_priv *priv = data;
	u32 isr = readl(priv->hw_addr + FOO_REG_ISR);

	if (!(isr & priv->int_mask))
		return IRQ_NONE;

	writel(isr, priv->hw_addr + FOO_REG_ISR);
	if (isr & FOO_ISR_PHY)
		schedule_work(&priv->link_check_wk);
	if (isr & FOO_ISR_FATAL)
		schedule_work(&priv->reset_wk);

	return IRQ_HANDLED;
}

int foo_up(struct foo_priv *priv)
{
	int err;

	lockdep_assert_held(&priv->mtx);

	err = request_irq(priv->pdev->irq, foo_intr, IRQF_SHARED,
			  priv->dev->name, priv);
	if (err)
		return err;

	priv->int_mask = FOO_ISR_PHY | FOO_ISR_FATAL;
	foo_activate(priv);
	return 0;
}
