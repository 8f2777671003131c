/* SPDX-License-Identifier: GPL-2.0 */
void baz_wait_for_deps(void);
