// SPDX-License-Identifier: GPL-2.0 OR Linux-OpenIB
/*
 * waitcheck fixture "mlx5-cache-cleanup": the auxiliary driver that sets
 * up and tears down the key cache.
 */
#include <linux/auxiliary_bus.h>
#include <linux/module.h>
#include <rdma/ib_verbs.h>
#include "foo_ib.h"

static int foo_ib_probe(struct auxiliary_device *adev,
			const struct auxiliary_device_id *id)
{
	struct foo_ib_dev *dev;
	int err;

	dev = ib_alloc_device(foo_ib_dev, ib_dev);
	if (!dev)
		return -ENOMEM;

	dev->adev = adev;
	dev->max_keys = 1 << 16;

	err = foo_cache_init(dev);
	if (err)
		goto err_dealloc;

	err = ib_register_device(&dev->ib_dev, "foo_%d", &adev->dev);
	if (err)
		goto err_cache;

	auxiliary_set_drvdata(adev, dev);
	return 0;

err_cache:
	foo_cache_cleanup(dev);
err_dealloc:
	ib_dealloc_device(&dev->ib_dev);
	return err;
}

static void foo_ib_remove(struct auxiliary_device *adev)
{
	struct foo_ib_dev *dev = auxiliary_get_drvdata(adev);

	ib_unregister_device(&dev->ib_dev);
	foo_cache_cleanup(dev);
	ib_dealloc_device(&dev->ib_dev);
}

static const struct auxiliary_device_id foo_ib_id_table[] = {
	{ .name = "foo_core.rdma", },
	{},
};
MODULE_DEVICE_TABLE(auxiliary, foo_ib_id_table);

static struct auxiliary_driver foo_ib_driver = {
	.name = "rdma",
	.probe = foo_ib_probe,
	.remove = foo_ib_remove,
	.id_table = foo_ib_id_table,
};
module_auxiliary_driver(foo_ib_driver);

MODULE_DESCRIPTION("fixture: RDMA driver with a key cache");
MODULE_LICENSE("Dual BSD/GPL");
