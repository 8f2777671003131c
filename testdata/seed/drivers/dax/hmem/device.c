// SPDX-License-Identifier: GPL-2.0
/* waitcheck fixture: walk the reserved ranges, calling back for each. */
#include <linux/device.h>
#include <linux/ioport.h>
#include "../bus.h"

static struct resource ranges[4];

int walk_hmem_resources(struct device *dev, walk_hmem_fn fn)
{
	int i, rc = 0;

	for (i = 0; i < 4; i++) {
		rc = fn(dev, 0, &ranges[i]);
		if (rc)
			break;
	}
	return rc;
}
