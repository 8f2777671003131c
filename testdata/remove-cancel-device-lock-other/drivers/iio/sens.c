// SPDX-License-Identifier: GPL-2.0
/* waitcheck fixture: remove cancels a work that takes a device lock. */
#include <linux/i2c.h>
#include <linux/workqueue.h>

struct sens_priv {
	struct i2c_client *client;
	struct device *child;
	struct work_struct irq_work;
};

static void sens_irq_work(struct work_struct *work)
{
	struct sens_priv *priv = container_of(work, struct sens_priv, irq_work);

	device_lock(priv->child);
	sens_handle(priv);
	device_unlock(priv->child);
}

static int sens_probe(struct i2c_client *client)
{
	struct sens_priv *priv;

	priv = devm_kzalloc(&client->dev, sizeof(*priv), GFP_KERNEL);
	if (!priv)
		return -ENOMEM;
	priv->client = client;
	INIT_WORK(&priv->irq_work, sens_irq_work);
	i2c_set_clientdata(client, priv);
	return 0;
}

static void sens_remove(struct i2c_client *client)
{
	struct sens_priv *priv = i2c_get_clientdata(client);

	cancel_work_sync(&priv->irq_work);
}

static struct i2c_driver sens_driver = {
	.probe = sens_probe,
	.remove = sens_remove,
};
module_i2c_driver(sens_driver);
