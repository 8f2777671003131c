// SPDX-License-Identifier: GPL-2.0
/* waitcheck fixture: the alx stop shape. */
#include <linux/pci.h>
#include <linux/netdevice.h>
#include <linux/workqueue.h>
#include "net.h"

static void net_link_check(struct work_struct *work)
{
	struct net_priv *priv = container_of(work, struct net_priv, link_check_wk);

	mutex_lock(&priv->mtx);
	net_update_link(priv);
	mutex_unlock(&priv->mtx);
}

static void net_reset(struct work_struct *work)
{
	struct net_priv *priv = container_of(work, struct net_priv, reset_wk);

	mutex_lock(&priv->mtx);
	net_reinit(priv);
	mutex_unlock(&priv->mtx);
}

static void __net_stop(struct net_priv *priv)
{
	net_halt(priv);
	cancel_work_sync(&priv->link_check_wk);
	cancel_work_sync(&priv->reset_wk);
}

static int net_stop(struct net_device *netdev)
{
	struct net_priv *priv = netdev_priv(netdev);

	mutex_lock(&priv->mtx);
	__net_stop(priv);
	mutex_unlock(&priv->mtx);
	return 0;
}

static int net_probe(struct pci_dev *pdev, const struct pci_device_id *ent)
{
	struct net_priv *priv;

	priv = devm_kzalloc(&pdev->dev, sizeof(*priv), GFP_KERNEL);
	if (!priv)
		return -ENOMEM;
	mutex_init(&priv->mtx);
	INIT_WORK(&priv->link_check_wk, net_link_check);
	INIT_WORK(&priv->reset_wk, net_reset);
	return 0;
}

static struct pci_driver net_driver = {
	.probe = net_probe,
};
module_pci_driver(net_driver);
