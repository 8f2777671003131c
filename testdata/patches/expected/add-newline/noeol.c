int toy_noeol(void)
{
	return 0;
}

int toy_more;
