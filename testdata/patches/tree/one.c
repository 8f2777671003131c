int toy_one = 1;
