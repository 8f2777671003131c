// SPDX-License-Identifier: GPL-2.0
/*
 * waitcheck fixture "remove-cancel-device-lock-other": .remove (holding
 * the I2C client's device lock) cancel-syncs the event work, and the work
 * takes a device lock too, but that of the child LED device the driver
 * created, not of the client it is bound to. Parent-then-child is the
 * driver core's own order: no cycle, no finding.
 */
#include <linux/platform_device.h>
#include <linux/interrupt.h>
#include <linux/device.h>
#include <linux/module.h>
#include <linux/i2c.h>
#include <linux/of.h>
#include "lux.h"

static void lux_lower_gain(struct lux_data *data)
{
	guard(mutex)(&data->lock);
	if (data->gain == 0)
		return;

	data->gain--;
	i2c_smbus_write_byte_data(data->client, LUX_REG_GAIN, data->gain);
}

static void lux_event_work(struct work_struct *work)
{
	struct lux_data *data = container_of(work, struct lux_data, event_work);
	struct i2c_client *client = data->client;
	int status;

	status = i2c_smbus_read_byte_data(client, LUX_REG_STATUS);
	if (status < 0)
		return;

	if (status & LUX_STATUS_SATURATED)
		lux_lower_gain(data);
	sysfs_notify(&client->dev.kobj, NULL, "illuminance");

	/* tell the LED driver, if one is bound to the child */
	device_lock(data->child);
	if (data->child->driver)
		kobject_uevent(&data->child->kobj, KOBJ_CHANGE);
	device_unlock(data->child);
}

static irqreturn_t lux_irq(int irq, void *dev_id)
{
	struct lux_data *data = dev_id;

	schedule_work(&data->event_work);
	return IRQ_HANDLED;
}

static int lux_probe(struct i2c_client *client)
{
	struct platform_device *led;
	struct lux_data *data;
	int ret;

	data = devm_kzalloc(&client->dev, sizeof(*data), GFP_KERNEL);
	if (!data)
		return -ENOMEM;

	data->client = client;
	data->gain = LUX_MAX_GAIN;
	mutex_init(&data->lock);
	INIT_WORK(&data->event_work, lux_event_work);
	i2c_set_clientdata(client, data);

	ret = i2c_smbus_write_byte_data(client, LUX_REG_CTRL, LUX_CTRL_ON);
	if (ret)
		return ret;

	led = platform_device_register_data(&client->dev, "lux-led",
					    PLATFORM_DEVID_AUTO, NULL, 0);
	if (IS_ERR(led))
		return PTR_ERR(led);
	data->child = &led->dev;

	if (client->irq) {
		ret = devm_request_threaded_irq(&client->dev, client->irq,
						NULL, lux_irq, IRQF_ONESHOT,
						"lux", data);
		if (ret) {
			platform_device_unregister(led);
			return dev_err_probe(&client->dev, ret, "no irq\n");
		}
	}

	return 0;
}

static void lux_remove(struct i2c_client *client)
{
	struct lux_data *data = i2c_get_clientdata(client);

	i2c_smbus_write_byte_data(client, LUX_REG_CTRL, 0);
	cancel_work_sync(&data->event_work);
	platform_device_unregister(to_platform_device(data->child));
}

static const struct i2c_device_id lux_id[] = {
	{ "lux-als" },
	{ }
};
MODULE_DEVICE_TABLE(i2c, lux_id);

static const struct of_device_id lux_of_match[] = {
	{ .compatible = "fixture,lux-als" },
	{ }
};
MODULE_DEVICE_TABLE(of, lux_of_match);

static struct i2c_driver lux_driver = {
	.driver = {
		.name = "lux-als",
		.of_match_table = lux_of_match,
	},
	.probe = lux_probe,
	.remove = lux_remove,
	.id_table = lux_id,
};
module_i2c_driver(lux_driver);

MODULE_DESCRIPTION("fixture: light sensor whose work locks a child device");
MODULE_LICENSE("GPL");
