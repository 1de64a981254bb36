#ifndef BCSIM_TEST_SUITES_H
#define BCSIM_TEST_SUITES_H

#include <check.h>

Suite *at_frame_suite(void);
Suite *at_parse_suite(void);
Suite *at_engine_suite(void);
Suite *misc_suite(void);
Suite *readme_suite(void);
Suite *patch_suite(void);
Suite *lzma2_suite(void);
Suite *formats_suite(void);
Suite *delta_suite(void);
Suite *powercut_suite(void);
Suite *url_suite(void);
Suite *scn_parse_suite(void);
Suite *scenario_suite(void);
Suite *download_suite(void);
Suite *coap_download_suite(void);
Suite *boot_suite(void);
Suite *commands_suite(void);
Suite *cli_suite(void);
Suite *robust_suite(void);
Suite *tools_suite(void);
Suite *fota_suite(void);
Suite *coap_fota_suite(void);
Suite *serve_suite(void);
Suite *update_faults_suite(void);
Suite *hardening_suite(void);
Suite *control_suite(void);
Suite *simctl_suite(void);
Suite *corpus_suite(void);
Suite *coap_serve_suite(void);
Suite *uart_dfota_suite(void);
Suite *upload_tool_suite(void);
Suite *lwm2m_server_suite(void);
Suite *lwm2m_client_suite(void);
Suite *lwm2m_module_suite(void);
Suite *lwm2m_host_suite(void);
Suite *lwm2m_interop_suite(void);

#endif
