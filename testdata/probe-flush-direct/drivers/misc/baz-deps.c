// SPDX-License-Identifier: GPL-2.0
#include <linux/device.h>
#include "baz.h"

void baz_wait_for_deps(void)
{
	/* the suppliers are probed by now */
	wait_for_device_probe();
}
