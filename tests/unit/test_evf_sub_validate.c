/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The EVF/1 subscriber extension: one test per rule and type of
 * docs/protocol.md's "Validation of subscriber frames", each breaking one
 * rule of a frame that is otherwise valid (resealed), and the order of
 * the rules: the first broken wins.
 */
#include <string.h>

#include <criterion/criterion.h>

#include "evf_sub_testutil.h"

/* ---- validation: count ----------------------------------------------- */

Test(evf_sub_validate, subscribe_with_count_is_count)
{
	make_subscribe(1, "");
	set16(6, 1);
	cr_expect_eq(resealed(), EVG_EVF_BAD_COUNT);
}

Test(evf_sub_validate, credit_with_count_is_count)
{
	make_credit(5, 5);
	set16(6, 1);
	cr_expect_eq(resealed(), EVG_EVF_BAD_COUNT);
}

Test(evf_sub_validate, unsubscribe_with_count_is_count)
{
	make_unsubscribe();
	set16(6, 2);
	cr_expect_eq(resealed(), EVG_EVF_BAD_COUNT);
}

Test(evf_sub_validate, challenge_with_count_is_count)
{
	make_challenge();
	set16(6, 1);
	cr_expect_eq(resealed(), EVG_EVF_BAD_COUNT);
}

Test(evf_sub_validate, deliver_with_count_0_is_count)
{
	make_deliver(2);
	set16(6, 0);
	cr_expect_eq(resealed(), EVG_EVF_BAD_COUNT);
}

Test(evf_sub_validate, sub_error_with_count_0_is_count)
{
	make_error(EVG_EVF_SUB_ERR_FULL);
	set16(6, 0);
	cr_expect_eq(resealed(), EVG_EVF_BAD_COUNT);
}

Test(evf_sub_validate, subscribed_with_count_0_or_above_16_is_count)
{
	make_subscribed(1);
	set16(6, 0);
	cr_expect_eq(resealed(), EVG_EVF_BAD_COUNT);
	set16(6, 17);
	cr_expect_eq(resealed(), EVG_EVF_BAD_COUNT);
}

Test(evf_sub_validate, committed_with_count_above_16_is_count)
{
	make_committed(16);
	set16(6, 17);
	cr_expect_eq(resealed(), EVG_EVF_BAD_COUNT);
}

/* ---- validation: records (the length) ---------------------------------- */

Test(evf_sub_validate, subscribe_shorter_than_128_bytes_is_records)
{
	make_subscribe(1, "");
	for (uint32_t len = 40; len < 128; len += 8)
		cr_expect_eq(reseal(len), EVG_EVF_BAD_RECORDS, "%u bytes", len);
	/* Even with nb_streams out of range (a field error once long
	 * enough). */
	fr[51] = 0;
	cr_expect_eq(reseal(120), EVG_EVF_BAD_RECORDS);
}

Test(evf_sub_validate, subscribe_not_a_multiple_of_8_is_records)
{
	make_subscribe(1, "");
	fr[51] = 0; /* no stream count to size the frame by */
	cr_expect_eq(reseal(132), EVG_EVF_BAD_RECORDS);
	cr_expect_eq(reseal(136), EVG_EVF_BAD_FIELD, "then nb_streams");
}

Test(evf_sub_validate, subscribe_length_other_than_its_streams_is_records)
{
	make_subscribe(2, "");
	cr_expect_eq(reseal(128), EVG_EVF_BAD_RECORDS);
	cr_expect_eq(reseal(144), EVG_EVF_BAD_RECORDS);
	make_subscribe(1, "");
	cr_expect_eq(reseal(136), EVG_EVF_BAD_RECORDS, "padding past 128");
}

Test(evf_sub_validate, credit_other_than_64_bytes_is_records)
{
	make_credit(5, 5);
	cr_expect_eq(reseal(56), EVG_EVF_BAD_RECORDS);
	cr_expect_eq(reseal(72), EVG_EVF_BAD_RECORDS);
	cr_expect_eq(reseal(40), EVG_EVF_BAD_RECORDS);
}

Test(evf_sub_validate, unsubscribe_other_than_48_bytes_is_records)
{
	make_unsubscribe();
	cr_expect_eq(reseal(40), EVG_EVF_BAD_RECORDS);
	cr_expect_eq(reseal(56), EVG_EVF_BAD_RECORDS);
}

Test(evf_sub_validate, challenge_other_than_48_bytes_is_records)
{
	make_challenge();
	cr_expect_eq(reseal(40), EVG_EVF_BAD_RECORDS);
	cr_expect_eq(reseal(56), EVG_EVF_BAD_RECORDS);
}

Test(evf_sub_validate, subscribed_other_than_64_plus_24_per_stream_is_records)
{
	make_subscribed(2);
	cr_expect_eq(fr_len, 112);
	cr_expect_eq(reseal(88), EVG_EVF_BAD_RECORDS);
	cr_expect_eq(reseal(120), EVG_EVF_BAD_RECORDS);
	set16(6, 3);
	cr_expect_eq(reseal(112), EVG_EVF_BAD_RECORDS, "count says 3");
}

Test(evf_sub_validate, committed_other_than_40_plus_16_per_stream_is_records)
{
	make_committed(2);
	cr_expect_eq(fr_len, 72);
	cr_expect_eq(reseal(64), EVG_EVF_BAD_RECORDS);
	cr_expect_eq(reseal(80), EVG_EVF_BAD_RECORDS);
	set16(6, 0);
	cr_expect_eq(reseal(72), EVG_EVF_BAD_RECORDS, "count says 0");
}

Test(evf_sub_validate, sub_error_longer_than_40_bytes_is_records)
{
	make_error(EVG_EVF_SUB_ERR_UNKNOWN);
	cr_expect_eq(reseal(48), EVG_EVF_BAD_RECORDS);
}

Test(evf_sub_validate, deliver_shorter_than_48_bytes_is_records)
{
	make_deliver(1);
	cr_expect_eq(reseal(40), EVG_EVF_BAD_RECORDS);
	cr_expect_eq(reseal(47), EVG_EVF_BAD_RECORDS);
}

Test(evf_sub_validate, deliver_records_past_the_end_is_records)
{
	make_deliver(3);
	set16(6, 4); /* one more record than the frame holds */
	cr_expect_eq(resealed(), EVG_EVF_BAD_RECORDS);
	set16(6, 3);
	set32(rec_off(0), 0xFFFFFFFFu); /* size runs far past the end */
	cr_expect_eq(resealed(), EVG_EVF_BAD_RECORDS);
	make_deliver(3);
	cr_expect_eq(reseal(fr_len - 8), EVG_EVF_BAD_RECORDS, "cut short");
}

Test(evf_sub_validate, deliver_bytes_left_after_the_records_is_records)
{
	make_deliver(3);
	set16(6, 2);
	cr_expect_eq(resealed(), EVG_EVF_BAD_RECORDS);
	set16(6, 3);
	cr_expect_eq(reseal(fr_len + 8), EVG_EVF_BAD_RECORDS);
}

/* ---- validation: key_size, attrs ---------------------------------------- */

Test(evf_sub_validate, deliver_key_size_above_size_is_key_size)
{
	uint32_t off = rec_off(2); /* size 2 + 7 */

	make_deliver(3);
	set16(off + 4, 10);
	cr_expect_eq(resealed(), EVG_EVF_BAD_KEY_SIZE);
	set16(off + 4, 9); /* key_size == size: a key only */
	cr_expect_eq(resealed(), EVG_EVF_BAD_DIRECTION);
}

Test(evf_sub_validate, deliver_record_flags_beyond_bits_0_to_2_is_attrs)
{
	static const uint16_t ok[] = {EVG_EVF_SUB_REC_REDELIVERED,
				      EVG_EVF_SUB_REC_MORE,
				      EVG_EVF_SUB_REC_CONT, 0x0007};
	static const uint16_t bad[] = {0x0008, 0x0010, 0x8000, 0x000F};

	make_deliver(2);
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		set16(rec_off(1) + 6, ok[i]);
		cr_expect_eq(resealed(), EVG_EVF_BAD_DIRECTION, "flags 0x%x",
			     ok[i]);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		set16(rec_off(1) + 6, bad[i]);
		cr_expect_eq(resealed(), EVG_EVF_BAD_ATTRS, "flags 0x%x",
			     bad[i]);
	}
}

Test(evf_sub_validate, deliver_record_reserved_word_is_attrs)
{
	make_deliver(2);
	set32(rec_off(0) + 12, 1);
	cr_expect_eq(resealed(), EVG_EVF_BAD_ATTRS);
}

/* ---- validation: field ----------------------------------------------------
 */

Test(evf_sub_validate, subscribe_version_not_1_is_field)
{
	make_subscribe(1, "");
	fr[48] = 0;
	cr_expect_eq(resealed(), EVG_EVF_BAD_FIELD);
	fr[48] = 2;
	cr_expect_eq(resealed(), EVG_EVF_BAD_FIELD);
}

Test(evf_sub_validate, subscribe_start_above_3_is_field)
{
	make_subscribe(1, "");
	fr[49] = 3;
	cr_expect_eq(resealed(), EVG_EVF_OK);
	fr[49] = 4;
	cr_expect_eq(resealed(), EVG_EVF_BAD_FIELD);
}

Test(evf_sub_validate, subscribe_policy_above_5_is_field)
{
	make_subscribe(1, "g");
	fr[50] = 5;
	cr_expect_eq(resealed(), EVG_EVF_OK);
	fr[50] = 6;
	cr_expect_eq(resealed(), EVG_EVF_BAD_FIELD);
}

Test(evf_sub_validate, subscribe_nb_streams_0_or_above_16_is_field)
{
	make_subscribe(1, "");
	fr[51] = 0;
	cr_expect_eq(resealed(), EVG_EVF_BAD_FIELD);
	fr[51] = 17;
	cr_expect_eq(resealed(), EVG_EVF_BAD_FIELD);
	make_subscribe(16, "");
	fr[51] = 17;
	cr_expect_eq(reseal(104 + 17 * 16), EVG_EVF_BAD_FIELD);
}

Test(evf_sub_validate, subscribe_weight_above_1000_is_field)
{
	make_subscribe(1, "g");
	set16(52, 1000);
	cr_expect_eq(resealed(), EVG_EVF_OK);
	set16(52, 1001);
	cr_expect_eq(resealed(), EVG_EVF_BAD_FIELD);
}

Test(evf_sub_validate, subscribe_reserved_bytes_not_0_is_field)
{
	make_subscribe(1, "");
	fr[54] = 1;
	cr_expect_eq(resealed(), EVG_EVF_BAD_FIELD);
	fr[54] = 0;
	fr[55] = 0x80;
	cr_expect_eq(resealed(), EVG_EVF_BAD_FIELD);
}

Test(evf_sub_validate, subscribe_stream_reserved_word_not_0_is_field)
{
	make_subscribe(3, "");
	set32(104 + 2 * 16 + 4, 1);
	cr_expect_eq(resealed(), EVG_EVF_BAD_FIELD);
}

Test(evf_sub_validate, subscribe_stream_listed_twice_is_field)
{
	make_subscribe(3, "");
	set32(104 + 2 * 16, 100); /* stream 3 = stream 1 */
	cr_expect_eq(resealed(), EVG_EVF_BAD_FIELD);
}

Test(evf_sub_validate, subscribe_group_with_another_character_is_field)
{
	static const char bad[] = " /:@\x7f\x80\xff";

	for (size_t i = 0; i < sizeof(bad) - 1; i++) {
		make_subscribe(1, "grp");
		fr[72 + 1] = (uint8_t)bad[i];
		cr_expect_eq(resealed(), EVG_EVF_BAD_FIELD, "byte 0x%02x",
			     (uint8_t)bad[i]);
	}
}

Test(evf_sub_validate, subscribe_group_of_32_bytes_without_nul_is_field)
{
	make_subscribe(1, "");
	memset(fr + 72, 'a', 31);
	cr_expect_eq(resealed(), EVG_EVF_OK, "31 characters");
	fr[72 + 31] = 'a';
	cr_expect_eq(resealed(), EVG_EVF_BAD_FIELD);
}

Test(evf_sub_validate, subscribe_group_bytes_after_the_nul_is_field)
{
	make_subscribe(1, "grp");
	fr[72 + 5] = 'x';
	cr_expect_eq(resealed(), EVG_EVF_BAD_FIELD);
	make_subscribe(1, "");
	fr[72 + 31] = 'x'; /* "no group" is 32 zero bytes */
	cr_expect_eq(resealed(), EVG_EVF_BAD_FIELD);
}

Test(evf_sub_validate, credit_processed_above_received_is_field)
{
	make_credit(5, 5);
	set64(48, 6);
	cr_expect_eq(resealed(), EVG_EVF_BAD_FIELD);
	set64(48, 0);
	cr_expect_eq(resealed(), EVG_EVF_OK);
}

Test(evf_sub_validate, sub_error_unknown_reason_is_field)
{
	make_error(EVG_EVF_SUB_ERR_UNKNOWN);
	set16(6, EVG_EVF_SUB_ERR_MAX);
	cr_expect_eq(resealed(), EVG_EVF_BAD_FIELD);
	set16(6, 0xFFFF);
	cr_expect_eq(resealed(), EVG_EVF_BAD_FIELD);
}

Test(evf_sub_validate, deliver_reserved_word_not_0_is_field)
{
	make_deliver(1);
	set32(44, 1);
	cr_expect_eq(resealed(), EVG_EVF_BAD_FIELD);
}

/* ---- validation: producer, session, direction -----------------------------
 */

Test(evf_sub_validate, consumer_id_0_is_producer_in_every_type)
{
	for (unsigned int t = 0; t < NB_SUB_TYPES; t++) {
		make_type(t);
		set32(8, 0);
		cr_expect_eq(resealed(), EVG_EVF_BAD_PRODUCER, "type %u",
			     fr[4]);
	}
}

Test(evf_sub_validate, session_0_is_session_in_every_type)
{
	for (unsigned int t = 0; t < NB_SUB_TYPES; t++) {
		make_type(t);
		set64(16, 0);
		cr_expect_eq(resealed(), EVG_EVF_BAD_SESSION, "type %u", fr[4]);
	}
}

Test(evf_sub_validate, appliance_types_are_direction_consumer_types_ok)
{
	make_subscribe(1, "");
	cr_expect_eq(validate_len(fr_len), EVG_EVF_OK);
	make_credit(1, 1);
	cr_expect_eq(validate_len(fr_len), EVG_EVF_OK);
	make_unsubscribe();
	cr_expect_eq(validate_len(fr_len), EVG_EVF_OK);
	make_challenge();
	cr_expect_eq(validate_len(fr_len), EVG_EVF_BAD_DIRECTION);
	make_subscribed(3);
	cr_expect_eq(validate_len(fr_len), EVG_EVF_BAD_DIRECTION);
	make_deliver(3);
	cr_expect_eq(validate_len(fr_len), EVG_EVF_BAD_DIRECTION);
	make_committed(3);
	cr_expect_eq(validate_len(fr_len), EVG_EVF_BAD_DIRECTION);
	make_error(EVG_EVF_SUB_ERR_REJECTED);
	cr_expect_eq(validate_len(fr_len), EVG_EVF_BAD_DIRECTION);
	cr_expect(evg_evf_sub_from_consumer(16) &&
		  evg_evf_sub_from_consumer(18));
	cr_expect(!evg_evf_sub_from_consumer(19) &&
		  !evg_evf_sub_from_consumer(4));
	cr_expect(evg_evf_sub_from_appliance(24) &&
		  evg_evf_sub_from_appliance(28));
	cr_expect(!evg_evf_sub_from_appliance(23) &&
		  !evg_evf_sub_from_appliance(29));
}

Test(evf_sub_validate, reserved_credit_flag_bits_are_ignored)
{
	make_credit(3, 1);
	fr[5] = 0xFC;
	cr_expect_eq(resealed(), EVG_EVF_OK);
}

/* ---- the order of the rules: the first broken wins ----------------------- */

Test(evf_sub_order, crc_before_count)
{
	make_subscribe(1, "");
	set16(6, 1); /* not resealed */
	cr_expect_eq(validate_len(fr_len), EVG_EVF_BAD_CRC);
}

Test(evf_sub_order, count_before_records)
{
	make_subscribe(1, "");
	set16(6, 1);
	cr_expect_eq(reseal(120), EVG_EVF_BAD_COUNT);
	make_deliver(2);
	set16(6, 0);
	cr_expect_eq(reseal(44), EVG_EVF_BAD_COUNT);
}

Test(evf_sub_order, records_before_field)
{
	make_subscribe(1, "");
	fr[48] = 7; /* version */
	cr_expect_eq(reseal(120), EVG_EVF_BAD_RECORDS);
	make_credit(1, 0);
	set64(48, 5); /* processed > received */
	cr_expect_eq(reseal(72), EVG_EVF_BAD_RECORDS);
	make_error(EVG_EVF_SUB_ERR_FULL);
	set16(6, 99); /* unknown reason */
	cr_expect_eq(reseal(48), EVG_EVF_BAD_RECORDS);
}

Test(evf_sub_order, records_before_key_size_of_an_earlier_record)
{
	make_deliver(3);
	set16(rec_off(0) + 4, 200); /* record 0: key_size */
	cr_expect_eq(reseal(fr_len - 8), EVG_EVF_BAD_RECORDS);
}

Test(evf_sub_order, key_size_before_attrs_of_an_earlier_record)
{
	make_deliver(3);
	set16(rec_off(0) + 6, 8);   /* record 0: flags */
	set16(rec_off(2) + 4, 200); /* record 2: key_size */
	cr_expect_eq(resealed(), EVG_EVF_BAD_KEY_SIZE);
}

Test(evf_sub_order, attrs_before_field)
{
	make_deliver(2);
	set32(44, 1);		   /* frame's reserved word */
	set32(rec_off(1) + 12, 1); /* record's reserved word */
	cr_expect_eq(resealed(), EVG_EVF_BAD_ATTRS);
}

Test(evf_sub_order, field_before_producer_and_session)
{
	make_subscribe(1, "");
	fr[49] = 9;
	set32(8, 0);
	set64(16, 0);
	cr_expect_eq(resealed(), EVG_EVF_BAD_FIELD);
}

Test(evf_sub_order, producer_before_session_before_direction)
{
	make_deliver(1);
	set32(8, 0);
	set64(16, 0);
	cr_expect_eq(resealed(), EVG_EVF_BAD_PRODUCER);
	set32(8, 1);
	cr_expect_eq(resealed(), EVG_EVF_BAD_SESSION);
	set64(16, 1);
	cr_expect_eq(resealed(), EVG_EVF_BAD_DIRECTION);
}
