/* SPDX-License-Identifier: GPL-2.0 */
/*
 * waitcheck fixture "remove-cancel-device-lock": an I2C ambient light
 * sensor whose threshold interrupt is handled in a work item.
 */
#ifndef _LUX_H
#define _LUX_H

#include <linux/i2c.h>
#include <linux/workqueue.h>
#include <linux/mutex.h>

#define LUX_REG_CTRL		0x00
#define LUX_REG_STATUS		0x01
#define LUX_REG_GAIN		0x02
#define LUX_CTRL_ON		0x03
#define LUX_STATUS_SATURATED	BIT(4)
#define LUX_MAX_GAIN		3

struct lux_data {
	struct i2c_client *client;
	struct work_struct event_work;
	struct mutex lock;		/* protects gain */
	u8 gain;
};

#endif /* _LUX_H */
