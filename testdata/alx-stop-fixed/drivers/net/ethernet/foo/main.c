// SPDX-License-Identifier: GPL-2.0
/*
 * waitcheck fixture "alx-stop-fixed": the handlers still take priv->mtx,
 * but ndo_stop cancel-syncs the works only after dropping it; handlers
 * that run in between see a stopped interface and do nothing. No finding.
 */
#include <linux/etherdevice.h>
#include <linux/interrupt.h>
#include <linux/netdevice.h>
#include <linux/module.h>
#include <linux/pci.h>
#include "foo.h"

static void __foo_stop(struct foo_priv *priv)
{
	lockdep_assert_held(&priv->mtx);

	free_irq(priv->pdev->irq, priv);
	foo_halt(priv);
}

static int foo_open(struct net_device *netdev)
{
	struct foo_priv *priv = netdev_priv(netdev);
	int ret;

	mutex_lock(&priv->mtx);
	ret = foo_up(priv);
	mutex_unlock(&priv->mtx);

	return ret;
}

static int foo_stop(struct net_device *netdev)
{
	struct foo_priv *priv = netdev_priv(netdev);

	mutex_lock(&priv->mtx);
	__foo_stop(priv);
	mutex_unlock(&priv->mtx);

	/* the handlers take priv->mtx: wait for them without holding it */
	cancel_work_sync(&priv->link_check_wk);
	cancel_work_sync(&priv->reset_wk);

	return 0;
}

static void foo_link_check(struct work_struct *work)
{
	struct foo_priv *priv = container_of(work, struct foo_priv,
					     link_check_wk);

	mutex_lock(&priv->mtx);
	if (netif_running(priv->dev))
		foo_check_link(priv);
	mutex_unlock(&priv->mtx);
}

static void foo_reset(struct work_struct *work)
{
	struct foo_priv *priv = container_of(work, struct foo_priv, reset_wk);

	mutex_lock(&priv->mtx);
	if (netif_running(priv->dev)) {
		foo_halt(priv);
		foo_activate(priv);
	}
	mutex_unlock(&priv->mtx);
}

static netdev_tx_t foo_start_xmit(struct sk_buff *skb, struct net_device *netdev)
{
	dev_kfree_skb_any(skb);	/* no rings in this fixture */
	return NETDEV_TX_OK;
}

static const struct net_device_ops foo_netdev_ops = {
	.ndo_open		= foo_open,
	.ndo_stop		= foo_stop,
	.ndo_start_xmit		= foo_start_xmit,
};

static int foo_probe(struct pci_dev *pdev, const struct pci_device_id *ent)
{
	struct net_device *netdev;
	struct foo_priv *priv;
	int err;

	err = pcim_enable_device(pdev);
	if (err)
		return err;

	netdev = alloc_etherdev(sizeof(*priv));
	if (!netdev)
		return -ENOMEM;

	SET_NETDEV_DEV(netdev, &pdev->dev);
	priv = netdev_priv(netdev);
	priv->dev = netdev;
	priv->pdev = pdev;
	mutex_init(&priv->mtx);
	INIT_WORK(&priv->link_check_wk, foo_link_check);
	INIT_WORK(&priv->reset_wk, foo_reset);

	priv->hw_addr = pci_ioremap_bar(pdev, 0);
	if (!priv->hw_addr) {
		err = -EIO;
		goto out_free_netdev;
	}

	netdev->netdev_ops = &foo_netdev_ops;

	err = register_netdev(netdev);
	if (err)
		goto out_unmap;

	pci_set_drvdata(pdev, priv);
	return 0;

out_unmap:
	iounmap(priv->hw_addr);
out_free_netdev:
	free_netdev(netdev);
	return err;
}

static void foo_remove(struct pci_dev *pdev)
{
	struct foo_priv *priv = pci_get_drvdata(pdev);

	unregister_netdev(priv->dev);
	iounmap(priv->hw_addr);
	mutex_destroy(&priv->mtx);
	free_netdev(priv->dev);
}

static const struct pci_device_id foo_pci_tbl[] = {
	{ PCI_VDEVICE(ATTANSIC, 0x10a1) },
	{ }
};
MODULE_DEVICE_TABLE(pci, foo_pci_tbl);

static struct pci_driver foo_driver = {
	.name		= "foo",
	.id_table	= foo_pci_tbl,
	.probe		= foo_probe,
	.remove		= foo_remove,
};
module_pci_driver(foo_driver);

MODULE_DESCRIPTION("fixture: Ethernet driver that cancels works under its mutex");
MODULE_LICENSE("GPL");
