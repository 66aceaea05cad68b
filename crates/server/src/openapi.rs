//! The OpenAPI document served at `/api/openapi.json` (Swagger UI at `/api/docs`).

use axum::Json;
use utoipa::OpenApi;

use crate::auth::{self, Department, PrincipalView, Role};
use crate::http::problem::Problem;
use crate::{
    antibot, assistant, audit, cockpit, consents, exchange, hall, hpf, institution, lending, ops,
    people, sscard, supply, traffic,
};

/// Every documented endpoint and schema.
#[derive(OpenApi)]
#[openapi(
    info(title = "Bianmin 便民服务平台 API", description = "银行便民服务平台接口。错误一律以 application/problem+json 返回。"),
    paths(
        ops::healthz, ops::readyz, ops::metrics, ops::overview, exchange::overview,
        antibot::escalations,
        auth::routes::list_personas, auth::routes::dev_login, auth::routes::assertion_login,
        auth::routes::logout, auth::routes::me, auth::otp::send, auth::otp::verify,
        people::my_profile, people::reveal_my_profile, people::person, people::reveal_person,
        people::erase_person, audit::entries, audit::verify,
        consents::list, consents::detail, consents::create, consents::approve, consents::reject,
        consents::revoke, hpf::my_account, hpf::my_deposits, hpf::loan_schedule,
        hpf::my_loan_quota, hpf::my_withdrawal, traffic::vehicles, traffic::licence,
        traffic::violations, traffic::pay, traffic::payments, traffic::payment, traffic::bank_account,
        sscard::my_card, sscard::activate, sscard::my_qr, sscard::revoke, sscard::my_contributions,
        sscard::verify, institution::staff, hall::hall,
        lending::application::overview, lending::application::create, lending::application::submit,
        lending::application::events, lending::review::request, lending::contract::contract,
        lending::contract::sign, lending::line::my_line, lending::line::draw, lending::line::repay, lending::line::renew,
        lending::review::queue, lending::review::resolve, lending::review::replay,
        assistant::ask::ask, assistant::ask::suggest, assistant::ask::feedback,
        assistant::followup::inbox, assistant::followup::read, assistant::followup::answer_survey,
        assistant::kb::list, assistant::kb::detail, assistant::kb::create, assistant::kb::update,
        assistant::kb::delete, assistant::insights::insights, cockpit::query, cockpit::live,
        supply::offer::mine, supply::offer::accept, supply::line::get_line, supply::line::orders,
        supply::line::draw, supply::line::repay, supply::line::set_sweep, supply::offer::contract,
        supply::line::receipt, supply::enterprise::onboard, supply::enterprise::list,
        supply::enterprise::detail, supply::enterprise::preapprove, supply::monitor::monitor,
        supply::monitor::unfreeze,
        supply::enterprise::institution_view, supply::enterprise::sign_agreement,
        supply::enterprise::revoke_agreement,
    ),
    components(schemas(Problem, Role, Department, PrincipalView)),
    tags(
        (name = "ops", description = "运维探针与指标"),
        (name = "cockpit", description = "管理驾驶舱：按时间与维度汇总的服务指标（少于 5 人的单元格不显示，政府部门人员只看本部门）"),
        (name = "assistant", description = "智能客服：问答、猜你想问、满意度回访、知识库管理与问题洞察"),
        (name = "auth", description = "登录与身份"),
        (name = "people", description = "个人信息（默认脱敏；明文读取须有角色与目的，并记入审计）"),
        (name = "audit", description = "防篡改审计日志"),
        (name = "consents", description = "我的授权：查看、同意、拒绝、撤回；每次使用均有记录"),
        (name = "institutions", description = "机构端（医院、药店、用人单位）"),
        (name = "lending", description = "闪电贷：申请、授权、审批、人工复核、合同签署、随借随还"),
        (name = "supply", description = "供应链融资：核心企业数据共享协议、经销商批量预授信、一键接受、受托支付、销售回款自动还款、贷后预警"),
        (name = "services", description = "便民服务（经统一接入标准、凭授权向政务部门查询）"),
    ),
)]
pub struct ApiDoc;

/// `GET /api/openapi.json`.
pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
