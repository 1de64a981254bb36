/* The cards' URL rules. */
#include "tests/integration/suites.h"
#include "proto/url.h"

#include <check.h>
#include <string.h>

START_TEST(accepted)
{
    struct url u;
    ck_assert_int_eq(url_parse("http://www.quectel.com:100/update.zip", &u), URL_OK);
    ck_assert_int_eq(u.scheme, URL_HTTP);
    ck_assert_str_eq(u.host, "www.quectel.com");
    ck_assert_uint_eq(u.port, 100);
    ck_assert_str_eq(u.path, "/update.zip");
    ck_assert_int_eq(url_parse("HTTP://10.0.0.1/a/b.bin?x=1", &u), URL_OK);
    ck_assert_uint_eq(u.port, 80); /* the cards' default */
    ck_assert_str_eq(u.path, "/a/b.bin?x=1");
    ck_assert_int_eq(url_parse("hTtP://[::1]:8080/p", &u), URL_OK);
    ck_assert_str_eq(u.host, "::1");
    ck_assert_uint_eq(u.port, 8080);
    ck_assert_int_eq(url_parse("https://h/p", &u), URL_OK);
    ck_assert_int_eq(u.scheme, URL_HTTPS);
    ck_assert_uint_eq(u.port, 443);
    ck_assert_int_eq(url_parse("COAP://h/p", &u), URL_OK);
    ck_assert_uint_eq(u.port, 5683);
    ck_assert_int_eq(url_parse("http://h:1/p", &u), URL_OK);
    ck_assert_int_eq(url_parse("http://h:65535/p", &u), URL_OK);
    ck_assert_uint_eq(u.port, 65535);
}
END_TEST

START_TEST(refused)
{
    struct url u;
    ck_assert_int_eq(url_parse("http://h:0/p", &u), URL_EPORT);
    ck_assert_int_eq(url_parse("http://h:65536/p", &u), URL_EPORT);
    ck_assert_int_eq(url_parse("http://h:99999999999/p", &u), URL_EPORT);
    ck_assert_int_eq(url_parse("http://h:/p", &u), URL_EPORT);
    ck_assert_int_eq(url_parse("http://h:8x/p", &u), URL_EPORT);
    ck_assert_int_eq(url_parse("http://h", &u), URL_EPATH);
    ck_assert_int_eq(url_parse("http://h/", &u), URL_EPATH);
    ck_assert_int_eq(url_parse("http://h:80", &u), URL_EPATH);
    ck_assert_int_eq(url_parse("http://h/a b", &u), URL_EPATH);
    ck_assert_int_eq(url_parse("http:///p", &u), URL_EHOST);
    ck_assert_int_eq(url_parse("http://[::1/p", &u), URL_EHOST);
    ck_assert_int_eq(url_parse("http://[]/p", &u), URL_EHOST);
    ck_assert_int_eq(url_parse("http://[zz::1]/p", &u), URL_EHOST);
    ck_assert_int_eq(url_parse("http://h@x/p", &u), URL_EPATH);
    ck_assert_int_eq(url_parse("ftp://h/p", &u), URL_ESCHEME);
    ck_assert_int_eq(url_parse("h/p", &u), URL_ESCHEME);
    ck_assert_int_eq(url_parse("", &u), URL_ESCHEME);
}
END_TEST

START_TEST(length_limit)
{
    char s[300] = "http://h/";
    while (strlen(s) < 255)
        strcat(s, "a");
    struct url u;
    ck_assert_int_eq(url_parse(s, &u), URL_OK); /* exactly 255 bytes */
    strcat(s, "a");
    ck_assert_int_eq(url_parse(s, &u), URL_ETOOLONG);
}
END_TEST

Suite *url_suite(void)
{
    Suite *s = suite_create("url");
    TCase *tc = tcase_create("url");
    tcase_add_test(tc, accepted);
    tcase_add_test(tc, refused);
    tcase_add_test(tc, length_limit);
    suite_add_tcase(s, tc);
    return s;
}
