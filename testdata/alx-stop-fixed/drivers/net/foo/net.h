/* SPDX-License-Identifier: GPL-2.0 */
struct net_priv {
	struct mutex mtx;
	struct work_struct link_check_wk;
	struct work_struct reset_wk;
};
void net_update_link(struct net_priv *priv);
void net_reinit(struct net_priv *priv);
void net_halt(struct net_priv *priv);
