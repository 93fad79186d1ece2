"""Sources (取り込み): what publishes contract events onto the input topics."""
