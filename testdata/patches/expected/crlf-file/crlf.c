int toy_crlf(void)
{
	int x = 1;

	return x + 1;
}

int toy_crlf2(void)
{
	return 2;
}
int toy_crlf3(void)
{
	return 3;
}
