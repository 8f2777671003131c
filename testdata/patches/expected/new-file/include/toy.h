/* SPDX-License-Identifier: GPL-2.0 */
#ifndef TOY_H
#define TOY_H

void toy_kick(void);
void toy_stop(void);

#endif
